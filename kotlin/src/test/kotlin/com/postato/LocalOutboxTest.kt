package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files

/** LocalOutbox: a device's outbox, enqueued and drained as an Android WorkManager job would. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LocalOutboxTest {
    private lateinit var sim: Simulator

    @BeforeAll
    fun start() = runBlocking { sim = startSimulator("{}") }

    @AfterAll
    fun stop() = runBlocking { sim.stop() }

    private fun path(): String = Files.createTempDirectory("postato-kt-outbox").resolve("outbox.db").toString()

    /** The job docs/outbox.md shows, as a WorkManager `CoroutineWorker.doWork` runs it: true = done. */
    private suspend fun drainJob(outbox: LocalOutbox): Boolean {
        val report = outbox.drain(deadlineMs = 60_000uL)
        return report.blocked == null && !report.stoppedEarly
    }

    @Test
    fun `an enqueued post is published once by a drain, and never again`() = runBlocking {
        val path = path()
        val keys = (0 until 5).map { Support.key("kt-device") }
        val rejected = Support.key("kt-device-rejected")
        sim.script(rejected, """[{"action":"respond","status":422}]""")
        LocalOutbox(Support.client(sim), path).let { app ->
            (keys + rejected).forEach { assertEquals(Enqueued.ENQUEUED, app.enqueue(Support.post(it))) }
            assertEquals(Enqueued.ALREADY_ENQUEUED, app.enqueue(Support.post(keys[0])))
            assertThrows<PostatoException.BusinessKeyReused> { runBlocking { app.enqueue(Support.post(keys[0], "edited")) } }
            assertThrows<PostatoException.InvalidPost> { runBlocking { app.enqueue(Support.post(Support.key(), " ")) } }
            assertEquals(6uL, app.counts().pending)
        }

        // The app's job runs on another LocalOutbox of the same file (as after a restart).
        val outbox = LocalOutbox(Support.client(sim), path, concurrency = 2u)
        assertTrue(drainJob(outbox))
        keys.forEach { assertEquals(1uL, sim.publishes(it), "$it published once") }
        val counts = outbox.counts()
        assertEquals(listOf(0uL, 5uL, 1uL), listOf(counts.pending, counts.published, counts.deadLettered))
        assertEquals(1uL, Store.sqlite(path).counts().deadLetters, "the dead letter is in the store, for a replay")

        val before = Support.requests(sim)
        val again = outbox.drain(deadlineMs = 60_000uL)
        assertTrue(again.published.isEmpty() && again.deadLettered.isEmpty(), "$again")
        assertEquals(before, Support.requests(sim), "a drained outbox sends nothing")
        assertThrows<PostatoException.InvalidSetting> { runBlocking { outbox.drain(deadlineMs = 0uL) } }
        Unit
    }

    @Test
    fun `a drain reports what it published, put back and dead-lettered`() = runBlocking {
        val outbox = LocalOutbox(Support.client(sim, ClientOptions(fastForwardWaits = true, timeoutMs = 5000uL, maxAttempts = 2u)), path())
        val (fine, rejected, down) = Triple(Support.key("kt-fine"), Support.key("kt-rejected"), Support.key("kt-down"))
        sim.script(rejected, """[{"action":"respond","status":422}]""")
        sim.script(down, """[{"action":"respond","status":503},{"action":"respond","status":503}]""")
        listOf(fine, rejected, down).forEach { outbox.enqueue(Support.post(it)) }
        val tomorrow = System.currentTimeMillis() + 86_400_000L
        outbox.enqueue(Support.post(Support.key("kt-tomorrow")), notBeforeMs = tomorrow.toULong())

        val report = outbox.drain(deadlineMs = 60_000uL)
        assertEquals(listOf(fine), report.published.map { it.businessKey })
        assertFalse(report.published[0].post.fromStore)
        assertEquals(listOf(rejected), report.deadLettered.map { it.businessKey })
        assertTrue(report.deadLettered[0].error is PostatoException.Permanent, "${report.deadLettered}")
        val deferred = report.deferred.single()
        assertEquals(down, deferred.businessKey)
        assertEquals(DeferReason.FAILED, deferred.reason)
        assertTrue(deferred.error is PostatoException.Transient, "$deferred")
        assertTrue(deferred.notBeforeMs > System.currentTimeMillis().toULong(), "tried again later, not at once")
        assertNull(report.blocked)
        assertEquals(2uL, report.counts.pending, "the failed post and tomorrow's wait")
        assertEquals(0uL, report.counts.due)
    }
}
