package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import java.io.File
import java.util.concurrent.atomic.AtomicInteger

/** Shared by the tests: the repository, unique business keys, posts and clients. */
object Support {
    val repo: File = File(System.getProperty("postato.repo") ?: "..")
    private val counter = AtomicInteger()

    fun key(prefix: String = "kt"): String = "$prefix-${ProcessHandle.current().pid()}-${counter.incrementAndGet()}"

    fun post(businessKey: String, content: String = "hello"): PostInput =
        PostInput(businessKey = businessKey, platform = "x", accountId = "acc_1", content = Content.Text(content))

    fun client(sim: Simulator, options: ClientOptions = ClientOptions(fastForwardWaits = true, timeoutMs = 5000uL)): Client =
        Client(sim.apiKey(), "ws_kt", options.copy(baseUrl = sim.baseUrl()))

    fun requests(sim: Simulator): Int = org.json.JSONObject(sim.statsJson()).getInt("requests")
}
