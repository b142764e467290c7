// Hand-written, not generated (`scripts/generate-uniffi.sh` replaces only `Postato.swift`):
// uniffi puts `meta` only on the error cases that carry an answer; these read it from any
// `PostatoError`, as Kotlin's `responseMeta` does. Untested here (no Swift compiler on this
// project's machines); the XCTest suite on macOS covers it.

extension PostatoError {
    /// The answer the error is about (its headers and request id), or nil when none is behind it.
    public var responseMeta: ResponseMeta? {
        let found: ResponseMeta?
        switch self {
        case .Permanent(_, _, _, _, let m), .IdempotencyConflict(_, _, _, _, let m),
             .Transient(_, _, _, _, let m), .InvalidResponse(_, _, _, _, let m):
            found = m
        case .RateLimited(_, _, _, _, let m), .DeadlineExceeded(_, _, _, let m):
            found = m
        default:
            found = nil
        }
        guard let meta = found, !meta.headers.isEmpty || meta.requestId != nil else { return nil }
        return meta
    }

    /// The server's id of the answer the error is about (`X-Request-Id`).
    public var requestId: String? { responseMeta?.requestId }
}
