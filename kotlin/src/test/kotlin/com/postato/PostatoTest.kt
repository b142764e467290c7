package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.nio.file.Files

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PostatoTest {
    private lateinit var sim: Simulator

    @BeforeAll
    fun start() = runBlocking { sim = startSimulator("{}") }

    @AfterAll
    fun stop() = runBlocking { sim.stop() }

    @Test
    fun `every shared vector matches the reference`() {
        val cases = JSONObject(File(Support.repo, "tests/vectors/idempotency-keys.json").readText()).getJSONArray("cases")
        assertTrue(cases.length() >= 10)
        for (i in 0 until cases.length()) {
            val case = cases.getJSONObject(i)
            assertEquals(case.getString("idempotencyKey"), idempotencyKey(case.getString("businessKey")))
        }
    }

    @Test
    fun `reference case 1 - a normal publish returns 202 and is stored`() = runBlocking {
        val db = Files.createTempDirectory("postato").resolve("posts.db").toString()
        val publisher = Publisher(Support.client(sim), Store.sqlite(db))
        val k = Support.key()
        val post = publisher.publish(Support.post(k))
        assertEquals(1u, post.attempts)
        assertEquals("published", post.status)
        assertFalse(post.fromStore)
        assertEquals(post.id, Store.sqlite(db).publishedId(k))
        assertEquals(1uL, sim.publishes(k))
    }

    @Test
    fun `reference case 2 - 500 twice then 202 is stored once`() = runBlocking {
        val k = Support.key()
        sim.script(k, """[{"action":"respond","status":500},{"action":"respond","status":500},{"action":"ok"}]""")
        val store = Store.memory()
        val post = Publisher(Support.client(sim), store).publish(Support.post(k))
        assertEquals(3u, post.attempts)
        assertEquals(1uL, store.counts().published)
        assertEquals(1uL, sim.publishes(k))
    }

    @Test
    fun `reference case 3 - the same post twice gets the same answer`() = runBlocking {
        val client = Support.client(sim)
        val k = Support.key()
        val first = client.publish(Support.post(k))
        val second = client.publish(Support.post(k))
        assertEquals(first.id, second.id)
        assertFalse(first.replayed)
        assertTrue(second.replayed)
        assertEquals(1uL, sim.publishes(k))
    }

    @Test
    fun `publishMany gives each post its own outcome, in input order`() = runBlocking {
        val client = Support.client(sim)
        val keys = (0 until 6).map { Support.key("kt-many") }
        sim.script(keys[2], """[{"action":"respond","status":400}]""")
        val posts = keys.map { Support.post(it) }.toMutableList()
        posts.add(4, Support.post(""))
        val outcomes = client.publishMany(posts, concurrency = 3u)
        assertEquals(7, outcomes.size)
        outcomes.forEachIndexed { i, outcome ->
            when (i) {
                2 -> assertTrue((outcome as PublishOutcome.Failed).error is PostatoException.Permanent, "$outcome")
                4 -> assertTrue((outcome as PublishOutcome.Failed).error is PostatoException.InvalidPost, "$outcome")
                else -> {
                    val k = keys[if (i < 4) i else i - 1]
                    val post = (outcome as PublishOutcome.Published).post
                    assertEquals(idempotencyKey(k), post.idempotencyKey, "entry $i is not its post's")
                    assertEquals(1uL, sim.publishes(k))
                }
            }
        }
        assertThrows<PostatoException.InvalidSetting> { runBlocking { client.publishMany(posts, concurrency = 0u) } }
        Unit
    }

    @Test
    fun `Publisher publishMany is a resumable batch where the first post of a key wins`() = runBlocking {
        val db = Files.createTempDirectory("postato-kt").resolve("batch.db").toString()
        val keys = (0 until 4).map { Support.key("kt-batch") }
        sim.script(keys[1], """[{"action":"respond","status":422}]""")
        val first = Publisher(Support.client(sim), Store.sqlite(db))
        val outcomes = first.publishMany(keys.take(3).map { Support.post(it) } + Support.post(keys[0]), concurrency = 2u)
        assertTrue((outcomes[1] as PublishOutcome.Failed).error is PostatoException.Permanent, "${outcomes[1]}")
        val (published, repeat) = outcomes[0] as PublishOutcome.Published to outcomes[3] as PublishOutcome.Published
        assertEquals(published.post.id, repeat.post.id)
        assertTrue(repeat.post.fromStore, "the same post again shares the first's outcome")
        assertEquals(1uL, Store.sqlite(db).counts().deadLetters)

        // Another process runs the whole batch, with one post edited under a published key.
        val before = Support.requests(sim)
        val again = Publisher(Support.client(sim), Store.sqlite(db))
        val resumed = again.publishMany(keys.map { Support.post(it) } + Support.post(keys[3], "edited"))
        assertTrue((resumed[0] as PublishOutcome.Published).post.fromStore)
        assertTrue((resumed[2] as PublishOutcome.Published).post.fromStore)
        assertFalse((resumed[3] as PublishOutcome.Published).post.fromStore)
        assertTrue((resumed[4] as PublishOutcome.Failed).error is PostatoException.BusinessKeyReused, "${resumed[4]}")
        // The dead-lettered post is tried again (1 request) and the new one published (1).
        assertEquals(before + 2, Support.requests(sim))
        keys.filter { it != keys[1] }.forEach { assertEquals(1uL, sim.publishes(it)) }
        assertThrows<PostatoException.InvalidSetting> { runBlocking { again.publishMany(listOf(), concurrency = 0u) } }
        Unit
    }

    @Test
    fun `errors arrive as PostatoException subclasses with their fields`() = runBlocking {
        val client = Support.client(sim)
        val permanent = Support.key()
        sim.script(permanent, """[{"action":"respond","status":400,"body":{"error":{"code":"bad"}}}]""")
        val p = assertThrows<PostatoException.Permanent> { runBlocking { client.publish(Support.post(permanent)) } }
        assertEquals(400.toUShort(), p.status)
        assertEquals(1u, p.attempts)
        assertTrue(p.body!!.contains("bad"))

        val transient = Support.key()
        sim.script(transient, """[{"action":"respond","status":503},{"action":"respond","status":503},{"action":"respond","status":503},{"action":"respond","status":503},{"action":"respond","status":503}]""")
        val t = assertThrows<PostatoException.Transient> { runBlocking { client.publish(Support.post(transient)) } }
        assertEquals(503.toUShort(), t.status)
        assertEquals(5u, t.attempts)

        val garbled = Support.key()
        sim.script(garbled, """[{"action":"respond","status":200,"bodyText":"<html>"}]""")
        assertThrows<PostatoException.InvalidResponse> { runBlocking { client.publish(Support.post(garbled)) } }

        val conflict = Support.key()
        client.publish(Support.post(conflict))
        assertThrows<PostatoException.IdempotencyConflict> { runBlocking { client.publish(Support.post(conflict, "edited")) } }

        val publisher = Publisher(client, Store.memory())
        val reused = Support.key()
        publisher.publish(Support.post(reused))
        assertThrows<PostatoException.BusinessKeyReused> { runBlocking { publisher.publish(Support.post(reused, "edited")) } }

        // Last: a 429 asking for two hours holds the client's gate, so every later publish on
        // this client ends rate_limited at once too.
        val limited = Support.key()
        sim.script(limited, """[{"action":"respond","status":429,"headers":{"Retry-After":"7200"}}]""")
        val r = assertThrows<PostatoException.RateLimited> { runBlocking { client.publish(Support.post(limited)) } }
        assertEquals(7_200_000uL, r.retryAfterMs)
        val held = assertThrows<PostatoException.RateLimited> { runBlocking { client.publish(Support.post(Support.key())) } }
        assertEquals(0u, held.attempts)
        Unit
    }

    @Test
    fun `the kit's per-account limits are kept per account, in their units`() = runBlocking {
        // One request per account per hour, then one per account per 1,000 s: an account's
        // second post is refused with the wait its limit gives (ms), another account's publishes.
        for ((config, least) in listOf(
            """{"accountQuota":{"limit":1,"window":3600000}}""" to 3_000_000uL,
            """{"accountRateLimit":{"ratePerSecond":0.001,"burst":1}}""" to 900_000uL,
        )) {
            val limited = startSimulator(config)
            try {
                val client = Client(limited.apiKey(), "ws_kt", ClientOptions(baseUrl = limited.baseUrl()))
                client.publish(Support.post(Support.key("kit")).copy(accountId = "acc_1"))
                val refused = assertThrows<PostatoException.RateLimited> {
                    runBlocking { client.publish(Support.post(Support.key("kit")).copy(accountId = "acc_1")) }
                }
                assertTrue(refused.retryAfterMs > least, "$config: ${refused.retryAfterMs}")
                client.publish(Support.post(Support.key("kit")).copy(accountId = "acc_2"))
                assertEquals(2, org.json.JSONObject(limited.statsJson()).getInt("publishedKeys"))
            } finally {
                limited.stop()
            }
        }
    }

    @Test
    fun `a spent account's post is Deferred with its retryAt, then published by publishDue once due`() = runBlocking {
        val spent = startSimulator("""{"spentAccounts":{"x/acc_spent":4}}""")
        try {
            val client = Client(spent.apiKey(), "ws_kt", ClientOptions(baseUrl = spent.baseUrl(), maxRetryAfterMs = 500uL))
            val db = Files.createTempDirectory("postato-kt").resolve("deferred.db").toString()
            val publisher = Publisher(client, Store.sqlite(db))
            val k = Support.key("deferred")
            val post = Support.post(k).copy(accountId = "acc_spent")
            val deferred = assertThrows<PostatoException.Deferred> { runBlocking { publisher.publish(post) } }
            assertTrue(deferred.retryAfterMs in 501uL..4_000uL, "${deferred.retryAfterMs}")
            val counts = Store.sqlite(db).counts()
            assertEquals(1uL, counts.deferred)
            assertEquals(0uL, counts.deadLetters)
            assertEquals(deferred.retryAt.toEpochMilli().toULong(), counts.nextDueMs)
            assertEquals(1uL, publisher.publishDue().deferred, "not due yet: nothing sent")
            assertEquals(1, Support.requests(spent))
            delay(maxOf(0L, deferred.retryAt.toEpochMilli() - System.currentTimeMillis()) + 50)
            val report = publisher.publishDue()
            assertEquals(DueReport(published = 1uL, failed = 0uL, deferred = 0uL, nextDueMs = null), report)
            assertEquals(1uL, spent.publishes(k))
            assertTrue(publisher.publish(post).fromStore)
        } finally {
            spent.stop()
        }
    }

    @Test
    fun `bad input is an InvalidPost naming the field and sends nothing`() = runBlocking {
        val client = Support.client(sim)
        val before = Support.requests(sim)
        val cases = listOf(
            Support.post("") to "businessKey",
            Support.post(Support.key()).copy(status = "now") to "status",
            Support.post(Support.key()).copy(status = "scheduled") to "scheduledAt",
            Support.post(Support.key()).copy(status = "scheduled", scheduledAt = "tomorrow") to "scheduledAt",
            Support.post(Support.key()).copy(content = Content.Thread(listOf(ThreadItem("a"), ThreadItem("")))) to "content[1].text",
            Support.post(Support.key(), "") to "content",
        )
        for ((post, field) in cases) {
            val e = assertThrows<PostatoException.InvalidPost> { runBlocking { client.publish(post) } }
            assertEquals(field, e.field, e.reason)
        }
        assertEquals(before, Support.requests(sim))
        val bad = assertThrows<PostatoException.InvalidSetting> { Client("k", "w", ClientOptions(baseUrl = "http://example.com")) }
        assertEquals("baseUrl", bad.field)
    }

    @Test
    fun `two publishers share results through a PostgreSQL store`() = runBlocking {
        val url = System.getenv("POSTATO_TEST_POSTGRES_URL")
        if (url == null) {
            check(System.getenv("CI") == null) { "POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL" }
            return@runBlocking
        }
        val client = Support.client(sim)
        val first = Publisher(client, Store.postgres(url))
        val second = Publisher(client, Store.postgres(url, 2u))
        val key = Support.key("kt-pg")
        val post = first.publish(Support.post(key))
        val again = second.publish(Support.post(key))
        assertEquals(post.id, again.id)
        assertTrue(again.fromStore)
        assertEquals(1uL, sim.publishes(key))
    }

    @Test
    fun `a forced publish of a fresh key publishes it once`() = runBlocking {
        val publisher = Publisher(Support.client(sim), Store.memory())
        val key = Support.key("kt-forced")
        val post = publisher.publish(Support.post(key), force = true)
        assertFalse(post.fromStore)
        assertEquals(1uL, sim.publishes(key))
    }

    @Test
    fun `a Publisher's publish takes its own options, checked before anything is sent`() = runBlocking {
        val publisher = Publisher(Support.client(sim), Store.memory())
        val key = Support.key("kt-publisher-options")
        val before = Support.requests(sim)
        val e = assertThrows<PostatoException.InvalidSetting> {
            runBlocking { publisher.publish(Support.post(key), options = PublishOptions(maxAttempts = 0u)) }
        }
        assertEquals("maxAttempts", e.field)
        assertEquals(before, Support.requests(sim))
        sim.script(key, """[{"action":"respond","status":503},{"action":"respond","status":503}]""")
        val failed = assertThrows<PostatoException.Transient> {
            runBlocking { publisher.publish(Support.post(key), options = PublishOptions(maxAttempts = 1u)) }
        }
        assertEquals(1u, failed.attempts)
    }

    @Test
    fun `a cancelled coroutine cancels the publish and nothing is retried after`() = runBlocking {
        // Each first request hangs 500 ms, then the server closes the connection. The client
        // fast-forwards its backoff, so a retry that survived the cancel would arrive as soon as
        // the hang ends and publish ("ok"); the checks run 2 s after the cancel, well past that.
        val client = Support.client(sim)
        val k = Support.key("cancel")
        sim.script(k, """[{"action":"hang","ms":500},{"action":"ok"}]""")
        val before = Support.requests(sim)
        val job = async { client.publish(Support.post(k)) }
        awaitRequests(before + 1) // the first request hangs at the server
        job.cancel()
        assertThrows<CancellationException> { runBlocking { job.await() } }
        delay(2000)
        assertEquals(before + 1, Support.requests(sim), "exactly one request: nothing was retried after the cancel")
        assertEquals(0uL, sim.publishes(k))

        val handle = CancelHandle()
        val k2 = Support.key("handle")
        sim.script(k2, """[{"action":"hang","ms":500},{"action":"ok"}]""")
        val before2 = Support.requests(sim)
        val pending = async { runCatching { client.publishCancellable(Support.post(k2), handle) } }
        awaitRequests(before2 + 1)
        handle.cancel()
        val error = pending.await().exceptionOrNull()
        assertTrue(error is PostatoException.Cancelled, "got $error")
        delay(2000)
        assertEquals(before2 + 1, Support.requests(sim), "exactly one request: nothing was retried after the cancel")
        assertEquals(0uL, sim.publishes(k2))
    }

    /** Waits (polling) until the simulator has seen `count` requests; fails after 5 s. */
    private suspend fun awaitRequests(count: Int) {
        val deadline = System.nanoTime() + 5_000_000_000L
        while (Support.requests(sim) < count) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for request $count")
            delay(5)
        }
    }

    @Test
    fun `a panic inside Rust arrives as an exception and the JVM lives on`() = runBlocking {
        val e = assertThrows<PostatoException.Internal> { runBlocking { testPanic() } }
        assertTrue(e.reason.contains("deliberate test panic"))
        assertEquals(32, idempotencyKey("still alive").length)
    }

    @Test
    fun `the API key appears in no exception text`() = runBlocking {
        val secret = "sk_live_kotlin_secret_value"
        val wrong = Client(secret, "w", ClientOptions(baseUrl = sim.baseUrl()))
        val e = assertThrows<PostatoException.Permanent> { runBlocking { wrong.publish(Support.post(Support.key())) } }
        assertEquals(401.toUShort(), e.status)
        for (text in listOf(e.message ?: "", e.toString(), e.stackTraceToString(), wrong.toString())) {
            assertFalse(text.contains(secret), text)
        }
    }
}
