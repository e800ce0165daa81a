/// Turns a stored delivery into a `TrackerEvent`. Filled in by the normalization work.
public enum DeliveryNormalizer {}
