// Hand-written beside the generated bindings: the transactional outbox on the application's
// own JDBC connection. The statement and its values are made in Rust (outboxStatement), so
// every language writes the same row; this file only runs them. `Enqueued` is the generated
// enum (LocalOutbox.enqueue answers it too).
package com.postato

import java.sql.Connection
import java.sql.SQLException

/**
 * The transactional outbox: a post enqueued inside your transaction is published by `postato
 * worker` once it commits, never if it rolls back.
 */
object Outbox {
    /**
     * Enqueues [post] on [connection], in the transaction it is in (`autoCommit = false`, your
     * `commit()` publishes it; with `autoCommit = true` it commits at once); [notBeforeMs] (ms
     * since the Unix epoch) holds it until then.
     * The same post enqueued again is [Enqueued.ALREADY_ENQUEUED]; another post under an
     * enqueued business key throws [PostatoException.BusinessKeyReused], and PostgreSQL aborts
     * the transaction; an invalid post throws before the database sees anything.
     */
    @JvmStatic
    @JvmOverloads
    fun enqueue(connection: Connection, post: PostInput, notBeforeMs: Long? = null): Enqueued {
        require(notBeforeMs == null || notBeforeMs >= 0) { "notBeforeMs must be a time (ms since the Unix epoch), got $notBeforeMs" }
        val statement = outboxStatement(post, notBeforeMs?.toULong())
        try {
            connection.prepareStatement(statement.sql).use { prepared ->
                prepared.setString(1, statement.businessKey)
                prepared.setString(2, statement.fingerprint)
                prepared.setString(3, statement.payload)
                prepared.setLong(4, statement.notBeforeMs)
                prepared.executeQuery().use { rows ->
                    rows.next()
                    return if (rows.getString(1) == "enqueued") Enqueued.ENQUEUED else Enqueued.ALREADY_ENQUEUED
                }
            }
        } catch (e: SQLException) {
            // Read by its SQLSTATE, never its message (which may be translated).
            outboxCheckError(e.sqlState, e.message, statement.businessKey, statement.fingerprint)
            throw e
        }
    }
}
