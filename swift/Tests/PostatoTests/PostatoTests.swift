// The same cases as the Kotlin suite, for macOS: `swift test` after
// `./scripts/generate-uniffi.sh` (which builds the library and its test kit, PostatoTesting).
import XCTest
@testable import Postato
import PostatoTesting

final class PostatoTests: XCTestCase {
    var sim: Simulator!

    override func setUp() async throws {
        sim = try await startSimulator(configJson: "{}")
    }

    override func tearDown() async throws {
        await sim.stop()
    }

    private func key(_ prefix: String = "swift") -> String {
        "\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
    }

    private func post(_ businessKey: String, _ content: String = "hello") -> PostInput {
        PostInput(businessKey: businessKey, platform: "x", accountId: "acc_1", content: .text(text: content))
    }

    private func client() throws -> Client {
        try Client(apiKey: sim.apiKey(), workspaceId: "ws_swift", options: ClientOptions(baseUrl: sim.baseUrl(), fastForwardWaits: true))
    }

    private var repo: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testSharedVectors() throws {
        let data = try Data(contentsOf: repo.appendingPathComponent("tests/vectors/idempotency-keys.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let cases = json["cases"] as! [[String: String]]
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases {
            XCTAssertEqual(try idempotencyKey(businessKey: c["businessKey"]!), c["idempotencyKey"]!)
        }
    }

    func testNormalPublishIsStored() async throws {
        let store = try Store.sqlite(path: NSTemporaryDirectory() + "/\(UUID().uuidString).db")
        let k = key()
        let published = try await Publisher(client: client(), store: store).publish(post: post(k))
        XCTAssertEqual(published.attempts, 1)
        XCTAssertEqual(try await store.publishedId(businessKey: k), published.id)
        XCTAssertEqual(try sim.publishes(businessKey: k), 1)
    }

    func test500TwiceThen202IsStoredOnce() async throws {
        let k = key()
        try sim.script(businessKey: k, actionsJson: #"[{"action":"respond","status":500},{"action":"respond","status":500},{"action":"ok"}]"#)
        let store = Store.memory()
        let published = try await Publisher(client: client(), store: store).publish(post: post(k))
        XCTAssertEqual(published.attempts, 3)
        XCTAssertEqual(try await store.counts().published, 1)
        XCTAssertEqual(try sim.publishes(businessKey: k), 1)
    }

    func testTheSamePostTwiceGetsTheSameAnswer() async throws {
        let c = try client()
        let k = key()
        let first = try await c.publish(post: post(k))
        let second = try await c.publish(post: post(k))
        XCTAssertEqual(first.id, second.id)
        XCTAssertFalse(first.replayed)
        XCTAssertTrue(second.replayed)
    }

    func testErrorsCarryTheirFields() async throws {
        let k = key()
        try sim.script(businessKey: k, actionsJson: #"[{"action":"respond","status":400}]"#)
        do {
            _ = try await client().publish(post: post(k))
            XCTFail("expected Permanent")
        } catch PostatoError.Permanent(_, let status, _, let attempts, let meta) {
            XCTAssertEqual(status, 400)
            XCTAssertEqual(attempts, 1)
            XCTAssertTrue(meta.requestId?.hasPrefix("req_") ?? false)
        } catch let error as PostatoError {
            XCTFail("expected Permanent, got \(error) (request \(error.requestId ?? "none"))")
        }
    }

    func testBadInputNamesTheField() async throws {
        do {
            _ = try await client().publish(post: post(""))
            XCTFail("expected InvalidPost")
        } catch PostatoError.InvalidPost(_, let field) {
            XCTAssertEqual(field, "businessKey")
        }
    }

    // The generated `publish(post:)` ignores Task cancellation (uniffi 0.32); the hand-written
    // `publishCancellingOnTaskCancel(post:)` (Sources/Postato/TaskCancellation.swift) honours it.
    func testCancellingTheTaskCancelsClientPublishCancellingOnTaskCancel() async throws {
        let c = try client()
        try await assertTaskCancellationCancelsThePublish { try await c.publishCancellingOnTaskCancel(post: $0) }
    }

    func testCancellingTheTaskCancelsPublisherPublishCancellingOnTaskCancel() async throws {
        let publisher = try Publisher(client: client(), store: Store.memory())
        try await assertTaskCancellationCancelsThePublish { try await publisher.publishCancellingOnTaskCancel(post: $0) }
    }

    func testAnAlreadyCancelledTaskSendsNothing() async throws {
        let c = try client()
        let p = post(key("cancelled-before"))
        let before = try requests()
        let task = Task { () async throws -> PublishedPost in
            while !Task.isCancelled { await Task.yield() }
            return try await c.publishCancellingOnTaskCancel(post: p)
        }
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected PostatoError.Cancelled")
        } catch PostatoError.Cancelled(_, _) {}
        XCTAssertEqual(try requests(), before)
    }

    /// The first request hangs 500 ms, then the server closes the connection. The client
    /// fast-forwards its backoff, so a retry that survived the cancel would arrive as soon as the
    /// hang ends and publish ("ok"); the checks run 2 s after the cancel, well past that moment.
    private func assertTaskCancellationCancelsThePublish(
        _ publish: @escaping @Sendable (PostInput) async throws -> PublishedPost
    ) async throws {
        let k = key("cancel")
        try sim.script(businessKey: k, actionsJson: #"[{"action":"hang","ms":500},{"action":"ok"}]"#)
        let p = post(k)
        let before = try requests()
        let task = Task { try await publish(p) }
        try await waitForRequests(before + 1) // the first request hangs at the server
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected PostatoError.Cancelled")
        } catch PostatoError.Cancelled(_, _) {}
        try await Task.sleep(nanoseconds: 2_000_000_000)
        XCTAssertEqual(try requests(), before + 1, "exactly one request: nothing was retried after the cancel")
        XCTAssertEqual(try sim.publishes(businessKey: k), 0)
    }

    private func requests() throws -> Int {
        let stats = try JSONSerialization.jsonObject(with: Data(sim.statsJson().utf8)) as! [String: Any]
        return stats["requests"] as! Int
    }

    /// Waits (polling) until the simulator has seen `count` requests; fails after 5 s.
    private func waitForRequests(_ count: Int) async throws {
        let deadline = Date().addingTimeInterval(5)
        while try requests() < count {
            guard Date() < deadline else {
                XCTFail("timed out waiting for request \(count)")
                return
            }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
    }
}
