package example

import com.postato.Client
import com.postato.ClientOptions
import com.postato.Content
import com.postato.PostInput
import com.postato.idempotencyKey
import com.postato.testing.startSimulator
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/** A user's test: postato from the local Maven repository publishes against its simulator. */
class ConsumerTest {
    @Test
    fun `postato by coordinates publishes against the simulator`() = runBlocking {
        assertEquals(null, System.getProperty("jna.library.path"), "the jars must carry their libraries")
        val sim = startSimulator("{}")
        try {
            val client = Client(sim.apiKey(), "ws_consumer", ClientOptions(baseUrl = sim.baseUrl()))
            val post = PostInput(businessKey = "kt-consumer-1", platform = "x", accountId = "a", content = Content.Text("hi"))
            val published = client.publish(post)
            assertEquals("published", published.status)
            assertEquals(idempotencyKey("kt-consumer-1"), published.idempotencyKey)
            println("kotlin consumer: published ${published.id}")
        } finally {
            sim.stop()
        }
    }
}
