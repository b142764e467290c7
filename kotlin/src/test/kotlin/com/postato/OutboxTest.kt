package com.postato

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.sql.Connection
import java.sql.DriverManager
import java.sql.SQLException

/** Outbox.enqueue on a JDBC connection, in its transaction (needs POSTATO_TEST_POSTGRES_URL). */
class OutboxTest {
    private val url: String? = System.getenv("POSTATO_TEST_POSTGRES_URL")

    private fun connect(): Connection {
        if (url == null) check(System.getenv("CI") == null) { "POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL" }
        assumeTrue(url != null, "set POSTATO_TEST_POSTGRES_URL")
        // A PostgresStore creates postato's tables, the outbox among them, on first use.
        runBlocking { Store.postgres(url!!, null).counts() }
        val (userInfo, rest) = url!!.removePrefix("postgres://").split("@", limit = 2)
        return DriverManager.getConnection("jdbc:postgresql://$rest", userInfo.substringBefore(":"), userInfo.substringAfter(":", ""))
    }

    private fun state(connection: Connection, key: String): String? =
        connection.prepareStatement("SELECT state FROM postato_outbox WHERE business_key = ?").use { s ->
            s.setString(1, key)
            s.executeQuery().use { if (it.next()) it.getString(1) else null }
        }

    @Test
    fun `an enqueue exists only if the transaction commits, and another post under its key aborts it`() {
        connect().use { app ->
            val (committed, rolledBack) = Support.key("kt-outbox") to Support.key("kt-outbox-rb")
            app.autoCommit = false
            assertEquals(Enqueued.ENQUEUED, Outbox.enqueue(app, Support.post(committed)))
            app.commit()
            Outbox.enqueue(app, Support.post(rolledBack), notBeforeMs = 1L)
            app.rollback()
            assertEquals("pending", state(app, committed))
            assertNull(state(app, rolledBack))
            assertEquals(Enqueued.ALREADY_ENQUEUED, Outbox.enqueue(app, Support.post(committed)))
            assertThrows<PostatoException.BusinessKeyReused> { Outbox.enqueue(app, Support.post(committed, "edited")) }
            assertThrows<SQLException> { state(app, committed) }
            app.rollback()
            assertThrows<PostatoException.InvalidPost> { Outbox.enqueue(app, Support.post(Support.key(), " ")) }
        }
    }
}
