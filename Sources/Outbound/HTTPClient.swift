import CBosunCurl

/// Outbound HTTP over libcurl. Filled in by the outbox work.
public enum OutboundPlaceholder {}
