package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Instant

/**
 * Issue #17 through the Kotlin API: a bad input is refused naming the field (nothing sent), and
 * random posts are refused by name or reach the wire exactly as given.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StrictInputsTest {
    private lateinit var sim: Simulator
    private val http: HttpClient = HttpClient.newHttpClient()

    @BeforeAll
    fun start() = runBlocking { sim = startSimulator("{}") }

    @AfterAll
    fun stop() = runBlocking { sim.stop() }

    /** The request body the simulator stored for `businessKey`, or null. */
    private fun received(businessKey: String): JSONObject? {
        val uri = URI.create("${sim.baseUrl()}/_sim/posts/${idempotencyKey(businessKey)}")
        val answer = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
        return if (answer.statusCode() == 404) null else JSONObject(answer.body()).getJSONObject("body")
    }

    @Test
    fun `a schedule time without a status schedules, and publish with one is refused`() = runBlocking {
        val client = Support.client(sim)
        val key = Support.key()
        val post = client.publish(Support.post(key).copy(scheduledAt = "2027-01-01T00:00:00Z"))
        assertEquals("scheduled", post.status)
        assertEquals("scheduled", received(key)!!.getString("status"))
        val before = Support.requests(sim)
        val conflict = Support.post(Support.key()).copy(status = "publish", scheduledAt = "2027-01-01T00:00:00Z")
        val e = assertThrows<PostatoException.InvalidPost> { runBlocking { client.publish(conflict) } }
        assertEquals("scheduledAt", e.field)
        assertEquals(before, Support.requests(sim))
    }

    @Test
    fun `empty keys, settings beyond their bounds and a dot workspace are refused by name`() {
        assertEquals("businessKey", assertThrows<PostatoException.InvalidPost> { idempotencyKey("") }.field)
        val base = ClientOptions(baseUrl = sim.baseUrl())
        val cases = listOf(
            ClientOptions(baseUrl = "") to "baseUrl",
            base.copy(caBundle = "/nonexistent/company-ca.pem") to "caBundle",
            base.copy(backoffBaseMs = 1_000_000_000uL) to "backoffBaseMs",
            base.copy(maxAttempts = 1000u) to "maxAttempts",
            base.copy(timeoutMs = 0uL) to "timeoutMs",
        )
        for ((options, field) in cases) {
            val e = assertThrows<PostatoException.InvalidSetting> { Client(sim.apiKey(), "ws_kt", options) }
            assertEquals(field, e.field, e.reason)
            assertTrue(e.reason.startsWith("invalid setting: "), e.reason)
        }
        val dot = assertThrows<PostatoException.InvalidSetting> { Client(sim.apiKey(), "..", base) }
        assertEquals("workspaceId", dot.field)
        for (path in listOf("", " ", ":memory:")) {
            assertEquals("path", assertThrows<PostatoException.InvalidSetting> { Store.sqlite(path) }.field, path)
        }
    }

    @Test
    fun `random posts are refused by name or reach the wire as given`() = runBlocking {
        val client = Support.client(sim)
        val random = java.util.Random(17)
        val texts = listOf("", "  ", "hi", "ação", "投稿", "a\tb", "x".repeat(40))
        val statuses = listOf(null, "publish", "scheduled", "draft", "now")
        val times = listOf(null, "2027-01-01T00:00:00Z", "2027-01-01T10:00:00+01:00", "tomorrow")
        repeat(200) {
            val text = texts[random.nextInt(texts.size)]
            val picked = texts[random.nextInt(texts.size)]
            val businessKey = if (picked.isBlank()) picked else Support.key() + picked
            val status = statuses[random.nextInt(statuses.size)]
            val at = times[random.nextInt(times.size)]
            val input = Support.post(businessKey, text).copy(status = status, scheduledAt = at)
            val before = Support.requests(sim)
            val published = try {
                client.publish(input)
            } catch (e: PostatoException.InvalidPost) {
                assertTrue(!e.field.isNullOrEmpty(), e.reason)
                assertEquals(before, Support.requests(sim))
                return@repeat
            }
            assertTrue(!(status == "publish" && at != null), "publish with a schedule time went out")
            val wire = received(businessKey)!!
            assertEquals(status ?: if (at != null) "scheduled" else "publish", wire.getString("status"))
            assertEquals(text, wire.getString("content"))
            assertEquals(idempotencyKey(businessKey), published.idempotencyKey)
            if (at == null) {
                assertTrue(!wire.has("scheduledAt"))
            } else {
                val sent = Instant.parse(wire.getString("scheduledAt"))
                assertEquals(java.time.OffsetDateTime.parse(at).toInstant(), sent)
            }
        }
    }
}
