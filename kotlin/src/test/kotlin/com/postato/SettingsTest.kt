package com.postato

import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File

/**
 * Every Kotlin and Swift setting against the table all languages share (tests/vectors/settings.json,
 * written from postato_core::settings): its name in the generated bindings, its range and its default.
 */
class SettingsTest {
    private val vector = JSONObject(File(Support.repo, "tests/vectors/settings.json").readText())
    private val settings = vector.getJSONArray("settings").let { all -> (0 until all.length()).map { all.getJSONObject(it) } }
    private val kotlinSource = File(Support.repo, "kotlin/target/generated-sources/uniffi/com/postato/postato_uniffi.kt").readText()
    private val swiftSource = File(Support.repo, "swift/Sources/Postato/Postato.swift").readText()

    private fun name(setting: JSONObject, language: String): String? = if (setting.isNull(language)) null else setting.getString(language)

    private fun setting(name: String): JSONObject = settings.first { it.getString("name") == name }

    @Test
    fun `every setting is an optional parameter under the table's name in Kotlin and Swift`() {
        for (setting in settings) {
            name(setting, "kotlin")?.let { kotlin ->
                assertTrue(Regex("`$kotlin`: kotlin\\.[A-Za-z]+\\? = null").containsMatchIn(kotlinSource), "Kotlin takes $kotlin")
            }
            name(setting, "swift")?.let { swift ->
                assertTrue(Regex("\\b$swift: UInt(32|64)\\? = nil").containsMatchIn(swiftSource), "Swift takes $swift")
            }
        }
    }

    @Test
    fun `every per-call option of the table is a field of PublishOptions`() {
        assertEquals(listOf("deadlineMs", "maxAttempts", "timeoutMs"), callSettings())
        val publishOptions = kotlinSource.substringAfter("data class PublishOptions (").substringBefore(") {")
        for (name in callSettings()) {
            assertTrue("var `$name`:" in publishOptions, "PublishOptions takes $name")
        }
        val all = PublishOptions(deadlineMs = 1uL, maxAttempts = 1u, timeoutMs = 1uL)
        assertEquals(3, all.toString().split("=").size - 1, "and no other")
    }

    @Test
    fun `clientDefaults reports each setting with the table's default`() {
        val d = clientDefaults()
        fun default(name: String): Long = setting(name).getLong("default")
        assertEquals(vector.getString("baseUrl"), d.baseUrl)
        assertEquals(default("maxAttempts").toUInt(), d.maxAttempts)
        assertEquals(default("timeout").toULong(), d.timeoutMs)
        assertEquals(default("connectTimeout").toULong(), d.connectTimeoutMs)
        assertEquals(default("backoffBase").toULong(), d.backoffBaseMs)
        assertEquals(default("backoffCap").toULong(), d.backoffCapMs)
        assertTrue(setting("deadline").isNull("default"))
        assertNull(d.deadlineMs)
        assertEquals(default("maxRateLimitWaits").toUInt(), d.maxRateLimitWaits)
        assertEquals(default("maxRetryAfter").toULong(), d.maxRetryAfterMs)
        assertEquals(default("concurrency").toUInt(), d.concurrency)
    }

    @Test
    fun `a client setting outside the table's range is refused naming it`() {
        val base = ClientOptions(baseUrl = "http://127.0.0.1:9")
        val options: Map<String, (Long) -> ClientOptions> = mapOf(
            "maxAttempts" to { v -> base.copy(maxAttempts = v.toUInt()) },
            "timeoutMs" to { v -> base.copy(timeoutMs = v.toULong()) },
            "connectTimeoutMs" to { v -> base.copy(connectTimeoutMs = v.toULong()) },
            "backoffBaseMs" to { v -> base.copy(backoffBaseMs = v.toULong()) },
            "backoffCapMs" to { v -> base.copy(backoffCapMs = v.toULong()) },
            "deadlineMs" to { v -> base.copy(deadlineMs = v.toULong()) },
            "maxRateLimitWaits" to { v -> base.copy(maxRateLimitWaits = v.toUInt()) },
            "maxRetryAfterMs" to { v -> base.copy(maxRetryAfterMs = v.toULong()) },
        )
        val clientOptions = kotlinSource.substringAfter("data class ClientOptions (").substringBefore(") {")
        val inClientOptions = settings.mapNotNull { s -> name(s, "kotlin")?.takeIf { "var `$it`:" in clientOptions }?.let { it to s } }
        assertEquals(options.keys, inClientOptions.map { it.first }.toSet(), "every ClientOptions setting is checked here")
        for ((kotlin, setting) in inClientOptions) {
            val e = assertThrows<PostatoException.InvalidSetting>(kotlin) { Client("k", "ws", options.getValue(kotlin)(setting.getLong("max") + 1)) }
            assertEquals(kotlin, e.field)
            assertTrue(e.reason.contains("give"), e.reason)
        }
    }
}
