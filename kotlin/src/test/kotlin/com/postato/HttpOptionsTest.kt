package com.postato

import com.sun.net.httpserver.HttpServer
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.net.InetSocketAddress
import java.util.Base64
import java.util.Collections

/** `defaultHeaders` and `proxy` as a server and a proxy see them: a stand-in that keeps each request. */
class HttpOptionsTest {
    private class StandIn : AutoCloseable {
        val seen: MutableList<Pair<String, Map<String, String>>> = Collections.synchronizedList(mutableListOf())
        private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            createContext("/") { exchange ->
                exchange.requestBody.readAllBytes()
                val headers = exchange.requestHeaders.entries.associate { (name, values) -> name.lowercase() to values.joinToString(",") }
                seen.add(exchange.requestURI.toString() to headers)
                val body = """{"id":"post_standin","status":"published"}""".toByteArray()
                exchange.responseHeaders.add("Content-Type", "application/json")
                exchange.sendResponseHeaders(202, body.size.toLong())
                exchange.responseBody.use { it.write(body) }
            }
            start()
        }
        val address: String get() = "127.0.0.1:${server.address.port}"

        override fun close() = server.stop(0)
    }

    @Test
    fun `default headers go with every request and a User-Agent before postato's`() = runBlocking {
        StandIn().use { server ->
            val headers = mapOf("X-Team" to "growth", "User-Agent" to "my-app/2.1")
            val options = ClientOptions(baseUrl = "http://${server.address}", http = HttpOptions(defaultHeaders = headers))
            Client("sk_live_standin", "ws_kt", options, null).use { client ->
                assertEquals("post_standin", client.publish(Support.post("kt-headers")).id)
            }
            val (_, seen) = server.seen.single()
            assertEquals("growth", seen["x-team"])
            assertTrue(seen.getValue("user-agent").startsWith("my-app/2.1 postato/"), seen.toString())
            assertEquals("Bearer sk_live_standin", seen["authorization"])
        }
    }

    @Test
    fun `the headers postato sets cannot be given, and no refusal shows a value`() {
        for (name in listOf("Authorization", "Idempotency-Key", "Content-Type", "Host")) {
            val e = assertThrows<PostatoException.InvalidSetting> {
                Client("k", "ws_kt", ClientOptions(baseUrl = "http://127.0.0.1:9", http = HttpOptions(mapOf(name to "hunter2"))), null)
            }
            assertEquals("defaultHeaders", e.field)
            assertTrue(e.reason.contains(name) && !e.reason.contains("hunter2"), e.reason)
        }
    }

    @Test
    fun `a proxy carries every request with its credentials`() = runBlocking {
        StandIn().use { proxy ->
            // Nothing listens at the base URL: only the proxy can answer.
            val options = ClientOptions(baseUrl = "http://127.0.0.1:9", http = HttpOptions(proxy = "http://team:hunter2@${proxy.address}"))
            Client("sk_live_standin", "ws_kt", options, null).use { client ->
                assertEquals("post_standin", client.publish(Support.post("kt-proxied")).id)
            }
            val (url, headers) = proxy.seen.single()
            assertEquals("http://127.0.0.1:9/v1/workspaces/ws_kt/posts", url)
            assertEquals("Basic " + Base64.getEncoder().encodeToString("team:hunter2".toByteArray()), headers["proxy-authorization"])
        }
        val e = assertThrows<PostatoException.InvalidSetting> {
            Client("k", "ws_kt", ClientOptions(baseUrl = "http://127.0.0.1:9", http = HttpOptions(proxy = "socks5://team:hunter2@proxy:1080")), null)
        }
        assertEquals("proxy", e.field)
        assertFalse(e.reason.contains("hunter2"), e.reason)
    }

    @Test
    fun `options print neither a header's value nor the proxy's credentials`() {
        val options = ClientOptions(http = HttpOptions(mapOf("X-Key" to "s3cret"), "http://team:hunter2@proxy:3128"))
        val shown = options.toString()
        assertFalse(shown.contains("s3cret") || shown.contains("hunter2"), shown)
    }
}
