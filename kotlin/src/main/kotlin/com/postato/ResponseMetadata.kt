// Hand-written beside the generated bindings: uniffi puts `meta` only on the error cases that
// carry an answer; these read it from any PostatoException, as Python's and Node's base
// classes do.
package com.postato

/** The answer the error is about (its headers and request id), or null when none is behind it. */
val PostatoException.responseMeta: ResponseMeta?
    get() = when (this) {
        is PostatoException.Permanent -> meta
        is PostatoException.IdempotencyConflict -> meta
        is PostatoException.Transient -> meta
        is PostatoException.RateLimited -> meta
        is PostatoException.DeadlineExceeded -> meta
        is PostatoException.InvalidResponse -> meta
        else -> null
    }?.takeIf { it.headers.isNotEmpty() || it.requestId != null }

/** The server's id of the answer the error is about (`X-Request-Id`): quote it when reporting a problem. */
val PostatoException.requestId: String?
    get() = responseMeta?.requestId
