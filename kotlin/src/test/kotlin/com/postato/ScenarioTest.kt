package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import kotlinx.coroutines.runBlocking
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance
import java.io.File

/** Every shared scenario file, through the Kotlin API against the simulator. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ScenarioTest {
    private val sim: Simulator = runBlocking { startSimulator("{}") }

    @AfterAll
    fun stop() = runBlocking { sim.stop() }

    private fun script(steps: JSONArray): String {
        val actions = JSONArray()
        for (i in 0 until steps.length()) {
            val step = steps.getJSONObject(i)
            when {
                step.optBoolean("ok") -> actions.put(JSONObject().put("action", "ok"))
                step.has("respond") -> {
                    val action = JSONObject().put("action", "respond").put("status", step.getInt("respond"))
                        .put("headers", step.optJSONObject("headers") ?: JSONObject())
                    if (step.has("body")) action.put("body", step.get("body"))
                    if (step.has("bodyText")) action.put("bodyText", step.getString("bodyText"))
                    actions.put(action)
                }
                step.optBoolean("reset") -> actions.put(JSONObject().put("action", "reset"))
                step.optBoolean("dropAfterCommit") -> actions.put(JSONObject().put("action", "dropAfterCommit"))
                step.optBoolean("timeout") -> actions.put(JSONObject().put("action", "hang").put("ms", 10_000))
            }
        }
        return actions.toString()
    }

    private fun content(value: Any): Content = when (value) {
        is String -> Content.Text(value)
        is JSONArray -> Content.Thread((0 until value.length()).map { i ->
            val item = value.getJSONObject(i)
            val media = item.optJSONArray("media")?.let { m -> (0 until m.length()).map { Media(m.getJSONObject(it).getString("id")) } }
            ThreadItem(item.getString("text"), media)
        })
        else -> error("unexpected content $value")
    }

    @TestFactory
    fun scenarios(): List<DynamicTest> {
        val files = File(Support.repo, "tests/scenarios").listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }
        assertTrue(files.size >= 25)
        return files.map { file ->
            DynamicTest.dynamicTest(file.nameWithoutExtension) { runBlocking { run(JSONObject(file.readText())) } }
        }
    }

    private suspend fun run(scenario: JSONObject) {
        val name = scenario.getString("name")
        val post = scenario.optJSONObject("post") ?: JSONObject()
        var businessKey = post.optString("businessKey", "scenario-$name")
        if (businessKey.isNotEmpty()) businessKey = "${Support.key()}-$businessKey"
        val policy = scenario.optJSONObject("policy") ?: JSONObject()
        val options = ClientOptions(
            baseUrl = sim.baseUrl(),
            fastForwardWaits = true,
            maxAttempts = policy.optInt("maxAttempts", 5).toUInt(),
            timeoutMs = policy.optLong("timeoutMs", 30_000).toULong(),
            deadlineMs = if (policy.has("deadlineMs")) policy.getLong("deadlineMs").toULong() else null,
            maxRateLimitWaits = policy.optInt("maxRateLimitWaits", 20).toUInt(),
        )
        val client = Client(sim.apiKey(), "ws_kt", options)
        if (businessKey.isNotEmpty()) sim.script(businessKey, script(scenario.getJSONArray("steps")))
        val input = PostInput(
            businessKey = businessKey,
            platform = post.optString("platform", "x"),
            accountId = post.optString("accountId", "acc_1"),
            content = content(post.opt("content") ?: "hello from $name"),
            status = if (post.has("status")) post.getString("status") else null,
            postType = post.optString("postType", "post"),
            scheduledAt = if (post.has("scheduledAt")) post.getString("scheduledAt") else null,
        )
        val expect = scenario.getJSONObject("expect")
        val before = Support.requests(sim)
        val (outcome, attempts, status) = try {
            val published = client.publish(input)
            if (expect.has("replayed")) assertEquals(expect.getBoolean("replayed"), published.replayed, name)
            Triple("published", published.attempts.toInt(), null)
        } catch (e: PostatoException) {
            when (e) {
                is PostatoException.InvalidPost, is PostatoException.InvalidSetting -> Triple("invalid_input", 0, null)
                is PostatoException.Permanent -> Triple("permanent", e.attempts.toInt(), e.status.toInt())
                is PostatoException.IdempotencyConflict -> Triple("idempotency_conflict", e.attempts.toInt(), e.status.toInt())
                is PostatoException.Transient -> Triple("transient", e.attempts.toInt(), e.status?.toInt())
                is PostatoException.RateLimited -> Triple("rate_limited", e.attempts.toInt(), e.status.toInt())
                is PostatoException.DeadlineExceeded -> Triple("deadline", e.attempts.toInt(), e.status?.toInt())
                is PostatoException.InvalidResponse -> Triple("invalid_response", e.attempts.toInt(), e.status.toInt())
                else -> throw e
            }
        }
        assertEquals(expect.getString("result"), outcome, name)
        assertEquals(expect.getInt("attempts"), attempts, name)
        if (outcome != "published") assertEquals(if (expect.has("status")) expect.getInt("status") else null, status, name)
        if (outcome == "invalid_input") assertEquals(before, Support.requests(sim), "$name: no request")
        else if (expect.has("platformPublishes")) assertEquals(expect.getLong("platformPublishes").toULong(), sim.publishes(businessKey), name)
    }
}
