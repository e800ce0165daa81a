/// The dashboard's stylesheet and its one script, served from the binary (no build step, no files to install).
/// Being files rather than inline, they let the Content-Security-Policy allow `'self'` only.
enum DashboardAssets {
    static let stylesheetPath = "/static/dashboard.css"
    static let scriptPath = "/static/log-tail.js"

    static let stylesheet = """
        :root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa; --accent: #0969da;
          --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #8250df; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); }
        header { display: flex; align-items: center; justify-content: space-between; padding: 10px 24px;
          background: #24292f; }
        header a, header button { color: #fff; text-decoration: none; }
        .brand { font-weight: 700; font-size: 17px; letter-spacing: .02em; }
        nav { display: flex; gap: 16px; align-items: center; }
        nav form { margin: 0; }
        nav button { background: transparent; border: 1px solid #57606a; border-radius: 6px; padding: 3px 10px;
          cursor: pointer; font: inherit; }
        main { padding: 16px 24px; max-width: 1400px; }
        footer { padding: 8px 24px 24px; color: var(--muted); font-size: 12px; }
        h1 { font-size: 20px; margin: 8px 0 12px; }
        h2 { font-size: 16px; margin: 20px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
        h3 { font-size: 14px; margin: 14px 0 6px; }
        a { color: var(--accent); }
        .columns { display: grid; grid-template-columns: 2fr 1fr; gap: 24px; }
        @media (max-width: 900px) { .columns { grid-template-columns: 1fr; } }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top;
          unicode-bidi: isolate; overflow-wrap: anywhere; }
        th { background: var(--panel); font-weight: 600; font-size: 12px; color: var(--muted); white-space: nowrap; }
        table.tasks { table-layout: fixed; }
        table.tasks th:nth-child(1) { width: 6%; }
        table.tasks th:nth-child(2) { width: 12%; }
        table.tasks th:nth-child(3) { width: 46%; }
        table.tasks th:nth-child(4), table.tasks th:nth-child(5) { width: 10%; }
        td time { white-space: nowrap; }
        .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
          background: #eaeef2; color: var(--ink); white-space: nowrap; }
        .is-ready, .is-closed, .is-succeeded, .is-success, .is-done, .is-exited, .is-terminal { background: #dafbe1;
          color: var(--good); }
        .is-starting, .is-running, .is-active, .is-half_open, .is-queued, .is-pending { background: #ddf4ff;
          color: var(--accent); }
        .is-backoff, .is-stopping, .is-hold, .is-transient, .is-cancelled { background: #fff8c5; color: var(--warn); }
        .is-failed, .is-open, .is-permanent, .is-lost, .is-timeout { background: #ffebe9; color: var(--bad); }
        .is-queue { background: #fbefff; color: var(--info); }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
        .facts dt { color: var(--muted); }
        .facts dd { margin: 0; overflow-wrap: anywhere; }
        .counts { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; padding: 0; margin: 0 0 8px; }
        .counts li { border: 1px solid var(--line); border-radius: 6px; padding: 4px 12px; background: var(--panel); }
        .count { font-weight: 700; }
        .stage h3 .count { color: var(--muted); font-weight: 400; }
        .warning { color: var(--bad); background: #ffebe9; padding: 8px 12px; border-radius: 6px; }
        .note, .empty { color: var(--muted); }
        .status { color: var(--muted); }
        pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
          white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.4 ui-monospace, monospace; }
        pre.log { max-height: 70vh; overflow: auto; }
        #log-status { font-size: 12px; font-weight: 400; margin-left: 8px; }
        #log-status.is-live { color: var(--good); }
        #log-status.is-finished { color: var(--muted); }
        .login { display: flex; flex-direction: column; gap: 8px; max-width: 360px; }
        .login input, .login button { font: inherit; padding: 6px 8px; border-radius: 6px;
          border: 1px solid var(--line); }
        .login button { background: var(--good); color: #fff; border: 0; cursor: pointer; }
        code { font: 12px ui-monospace, monospace; }

        """

    /// Follows a live run's log: asks for the bytes after the last offset every two seconds and appends them as
    /// text (never as markup), until the server says the run has finished. The status next to the heading says
    /// `following` while it does (the page without the script says to reload).
    static let script = """
        "use strict";
        (function () {
          const log = document.getElementById("log");
          if (!log) return;
          log.scrollTop = log.scrollHeight;
          if (log.dataset.live !== "true") return;
          const status = document.getElementById("log-status");
          let offset = Number(log.dataset.offset) || 0;
          function show(text, live) {
            status.textContent = text;
            status.className = live ? "is-live" : "is-finished";
          }
          show("following", true);
          async function poll() {
            try {
              const response = await fetch(log.dataset.src + "?from=" + offset,
                { credentials: "same-origin", cache: "no-store" });
              if (response.status === 401) { show("signed out: reload to log in", false); return; }
              if (response.ok) {
                const text = await response.text();
                const following = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
                if (text) log.append(document.createTextNode(text));
                offset = Number(response.headers.get("X-Log-End")) || offset;
                if (following) log.scrollTop = log.scrollHeight;
                if (response.headers.get("X-Run-Live") !== "true") { show("finished", false); return; }
                show("following", true);
              }
            } catch (error) {
              show("connection lost, retrying", true);
            }
            setTimeout(poll, 2000);
          }
          setTimeout(poll, 2000);
        })();

        """
}
