// Hand-written, not generated: `scripts/generate-uniffi.sh` replaces only `Postato.swift` in
// this directory, so this file survives regeneration.
//
// uniffi 0.32's Swift async calls await Rust without a cancellation handler: cancelling the
// `Task` that awaits the generated `publish(post:)` does not cancel the publish, which runs
// (and retries) to its end. The methods below wire Task cancellation to a `CancelHandle`
// through `publishCancellable(post:cancel:)`.
//
// No Swift compiler exists on the project's Linux machines: this file is compiled and tested
// only by the XCTest suite on macOS (`Tests/PostatoTests`, `swift test`).

extension Client {
    /// Publishes like `publish(post:)`, except that cancelling the calling `Task` cancels the
    /// publish: it throws `PostatoError.Cancelled` and nothing is retried after it (a request
    /// already sent may still reach the server). If the `Task` is already cancelled, nothing
    /// is sent. `options` (deadline, attempts) are this publish's own, as for `publish(post:options:)`.
    public func publishCancellingOnTaskCancel(post: PostInput, options: PublishOptions? = nil) async throws -> PublishedPost {
        let handle = CancelHandle()
        return try await withTaskCancellationHandler {
            try await self.publishCancellable(post: post, cancel: handle, options: options)
        } onCancel: {
            handle.cancel()
        }
    }
}

extension Publisher {
    /// Publishes like `publish(post:force:options:)` (skipping what the store has, unless
    /// `force`), except that cancelling the calling `Task` cancels the publish: it throws
    /// `PostatoError.Cancelled` and nothing is retried after it. If the `Task` is already
    /// cancelled, nothing is sent.
    public func publishCancellingOnTaskCancel(
        post: PostInput, force: Bool = false, options: PublishOptions? = nil
    ) async throws -> PublishedPost {
        let handle = CancelHandle()
        return try await withTaskCancellationHandler {
            try await self.publishCancellable(post: post, cancel: handle, force: force, options: options)
        } onCancel: {
            handle.cancel()
        }
    }
}
