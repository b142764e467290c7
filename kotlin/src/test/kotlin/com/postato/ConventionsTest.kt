package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.util.Collections

/** Issue #20: a retry listener that sees every retry, error metadata, per-call options, the environment. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConventionsTest {
    private lateinit var sim: Simulator

    @BeforeAll
    fun start() = runBlocking { sim = startSimulator("{}") }

    @AfterAll
    fun stop() = runBlocking { sim.stop() }

    private fun failing(key: String, n: Int, status: Int = 503) =
        sim.script(key, (1..n).joinToString(",", "[", "]") { """{"action":"respond","status":$status}""" })

    private fun client(options: ClientOptions, listener: RetryListener? = null): Client =
        Client(sim.apiKey(), "ws_kt", options.copy(baseUrl = sim.baseUrl(), fastForwardWaits = true), listener)

    @Test
    fun `a retry listener sees every retry with its fields`() = runBlocking {
        val seen = Collections.synchronizedList(mutableListOf<RetryEvent>())
        val listener = object : RetryListener {
            override fun onRetry(event: RetryEvent) {
                seen.add(event)
            }
        }
        val k = Support.key("kt-listener")
        sim.script(k, """[{"action":"respond","status":503},{"action":"reset"},{"action":"ok"}]""")
        val published = client(ClientOptions(), listener).publish(Support.post(k))
        assertEquals(3u, published.attempts)
        assertEquals(listOf(Triple(k, 2u, 503.toUShort()), Triple(k, 3u, null)), seen.map { Triple(it.businessKey, it.attempt, it.status) })
        assertTrue(seen[0].reason.contains("503") && seen[0].delayMs > 0uL, "${seen[0]}")
        seen.clear()
        val limited = Support.key("kt-listener-429")
        sim.script(limited, """[{"action":"respond","status":429,"headers":{"Retry-After":"2"}},{"action":"ok"}]""")
        assertEquals(2u, client(ClientOptions(), listener).publish(Support.post(limited)).attempts)
        assertEquals(listOf(Triple(2u, 429.toUShort(), 2000uL)), seen.map { Triple(it.attempt, it.status, it.delayMs) })
    }

    @Test
    fun `a listener that throws does not fail the publish`() = runBlocking {
        val k = Support.key("kt-listener-throws")
        failing(k, 1)
        val listener = object : RetryListener {
            override fun onRetry(event: RetryEvent) = throw IllegalStateException("listener bug")
        }
        assertEquals(2u, client(ClientOptions(), listener).publish(Support.post(k)).attempts)
    }

    @Test
    fun `a published post carries its request id`() = runBlocking {
        val published = client(ClientOptions()).publish(Support.post(Support.key("kt-request-id")))
        assertTrue(published.requestId!!.startsWith("req_"), "$published")
    }

    @Test
    fun `errors carry the answer's headers and request id`() = runBlocking {
        val k = Support.key("kt-meta")
        sim.script(k, """[{"action":"respond","status":400,"headers":{"X-Trace":"t-1"}}]""")
        val error = assertThrows<PostatoException.Permanent> { runBlocking { client(ClientOptions()).publish(Support.post(k)) } }
        assertEquals("t-1", error.meta.headers["x-trace"])
        assertTrue(error.meta.requestId!!.startsWith("req_"), "${error.meta}")
        val t = Support.key("kt-meta-transient")
        failing(t, 2)
        val transient = assertThrows<PostatoException.Transient> {
            runBlocking { client(ClientOptions(maxAttempts = 2u)).publish(Support.post(t)) }
        }
        assertTrue(transient.meta.requestId != null && transient.meta.requestId != error.meta.requestId)
        val any: PostatoException = transient
        assertEquals(transient.meta.requestId, any.requestId, "readable from the base type")
        val invalid = assertThrows<PostatoException.InvalidPost> {
            runBlocking { client(ClientOptions()).publish(Support.post("")) }
        }
        assertEquals(null, (invalid as PostatoException).responseMeta, "no answer behind an invalid post")
    }

    @Test
    fun `per-call options change one publish and are checked as the client's settings`() = runBlocking {
        val client = client(ClientOptions(maxAttempts = 5u, backoffBaseMs = 100uL, backoffCapMs = 1000uL))
        val fewer = Support.key("kt-call")
        failing(fewer, 5)
        val error = assertThrows<PostatoException.Transient> {
            runBlocking { client.publish(Support.post(fewer), PublishOptions(maxAttempts = 2u)) }
        }
        assertEquals(2u, error.attempts)
        val usual = Support.key("kt-call-usual")
        failing(usual, 5)
        assertEquals(5u, assertThrows<PostatoException.Transient> { runBlocking { client.publish(Support.post(usual)) } }.attempts)
        val urgent = Support.key("kt-call-deadline")
        failing(urgent, 5)
        assertThrows<PostatoException.DeadlineExceeded> {
            runBlocking { client.publish(Support.post(urgent), PublishOptions(deadlineMs = 50uL)) }
        }
        val before = Support.requests(sim)
        val refused = assertThrows<PostatoException.InvalidSetting> {
            runBlocking { client.publish(Support.post(Support.key()), PublishOptions(maxAttempts = 0u)) }
        }
        assertEquals("maxAttempts", refused.field)
        assertThrows<PostatoException.InvalidSetting> {
            runBlocking { client.publish(Support.post(Support.key()), PublishOptions(deadlineMs = 0uL)) }
        }
        assertEquals(before, Support.requests(sim))
    }

    @Test
    fun `a per-call timeout ends each attempt of that publish, as a timeout`() = runBlocking {
        val client = client(ClientOptions(maxAttempts = 1u, timeoutMs = 120_000uL))
        // The attempt hangs for 60 s: only the per-call timeout ends it, as a timeout.
        val hanging = Support.key("kt-call-timeout")
        sim.script(hanging, """[{"action":"hang","ms":60000}]""")
        val error = assertThrows<PostatoException.Transient> {
            runBlocking { client.publish(Support.post(hanging), PublishOptions(timeoutMs = 1_000uL)) }
        }
        assertEquals(1u, error.attempts)
        assertTrue(error.reason.contains("timeout") || error.reason.contains("timed out"), error.reason)
        val refused = assertThrows<PostatoException.InvalidSetting> {
            runBlocking { client.publish(Support.post(Support.key()), PublishOptions(timeoutMs = 3_600_000uL)) }
        }
        assertEquals("timeoutMs", refused.field)
    }

    @Test
    fun `a null key or workspace is read from the environment, and its absence is named`() {
        assumeTrue(System.getenv("POSTATO_API_KEY") == null, "POSTATO_API_KEY is set on this machine")
        // A missing API key is a setting to give, never an invalid post.
        val error = assertThrows<PostatoException.InvalidSetting> { Client(null, "ws_kt", ClientOptions(baseUrl = sim.baseUrl())) }
        assertTrue(error.reason.contains("POSTATO_API_KEY"), error.reason)
    }
}
