/// `GET /login`: the form that trades the API token for a session cookie. Also the page for a refused login or
/// login link, and for a dashboard without a token configured.
struct LoginPage {
    /// Why the form is shown again, if it is.
    var message: String?
    /// False when no API token is configured: there is nothing to log in with.
    var tokenConfigured = true

    func render() -> HTML {
        let notice: HTML = message.map { "<p class=\"warning\" id=\"login-error\">\($0)</p>" } ?? .empty
        guard tokenConfigured else {
            return PageLayout.document(
                title: "Bosun: log in", signedIn: false,
                """
                <h1>Log in</h1>
                <p class="warning" id="login-error">No API token is configured, so the dashboard is closed. Set \
                <code>api.token_file</code> or <code>api.token_env</code> in bosun.yaml and reload.</p>
                """)
        }
        return PageLayout.document(
            title: "Bosun: log in", signedIn: false,
            """
            <h1>Log in</h1>
            \(notice)<form method="post" action="/login" class="login">
            <label for="token">API token</label>
            <input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
            <button type="submit">Log in</button>
            </form>
            <p class="note">Or run <code>bosun dashboard</code> on the server for a one-time link.</p>
            """)
    }
}

/// A page that says something went wrong (an unknown task or run, a store error).
struct ProblemPage {
    var title: String
    var message: String
    var signedIn = true

    func render() -> HTML {
        PageLayout.document(
            title: "Bosun: \(title)", signedIn: signedIn,
            """
            <h1>\(title)</h1>
            <p class="warning" id="problem">\(message)</p>
            <p><a href="/">Back to the overview</a></p>
            """)
    }
}
