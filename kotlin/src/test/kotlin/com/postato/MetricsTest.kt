package com.postato

import com.postato.testing.Simulator
import com.postato.testing.startSimulator
import io.opentelemetry.sdk.metrics.SdkMeterProvider
import io.opentelemetry.sdk.metrics.data.MetricData
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows

/** The Rust client's metrics through the OpenTelemetry Java API, read back with the SDK's in-memory reader. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MetricsTest {
    private lateinit var sim: Simulator

    @BeforeAll
    fun start() = runBlocking { sim = startSimulator("{}") }

    @AfterAll
    fun stop() = runBlocking { sim.stop() }

    private fun client(metrics: Boolean?) =
        Client(sim.apiKey(), "ws_kt", ClientOptions(baseUrl = sim.baseUrl(), fastForwardWaits = true, metrics = metrics), null)

    /** Each point by `name|label`: a counter's sum, a histogram's count, a gauge's value. */
    private fun points(metrics: Collection<MetricData>): Map<String, Double> = metrics.flatMap { metric ->
        metric.data.points.map { point ->
            val label = point.attributes.asMap().values.firstOrNull()
            val value = when (point) {
                is io.opentelemetry.sdk.metrics.data.LongPointData -> point.value.toDouble()
                is io.opentelemetry.sdk.metrics.data.DoublePointData -> point.value
                is io.opentelemetry.sdk.metrics.data.HistogramPointData -> point.count.toDouble()
                else -> Double.NaN
            }
            "${metric.name}|$label" to value
        }
    }.toMap()

    @Test
    fun `a publish's metrics reach the meter under Rust's names`() = runBlocking {
        val reader = InMemoryMetricReader.create()
        SdkMeterProvider.builder().registerMetricReader(reader).build().use { provider ->
            val client = client(metrics = true)
            PostatoMetrics(client, provider.get("postato")).use { metrics ->
                val key = Support.key("kt-metrics")
                sim.script(key, """[{"action":"respond","status":503},{"action":"ok"}]""")
                assertEquals(2u, client.publish(Support.post(key)).attempts)
                val failed = Support.key("kt-metrics-failed")
                sim.script(failed, """[{"action":"respond","status":400}]""")
                assertThrows<PostatoException.Permanent> { runBlocking { client.publish(Support.post(failed)) } }
                metrics.flush()
                val seen = points(reader.collectAllMetrics())
                assertEquals(3.0, seen["postato.attempts|null"], seen.toString())
                assertEquals(1.0, seen["postato.retries|retryable_status"], seen.toString())
                assertEquals(1.0, seen["postato.wait.duration|retryable_status"], seen.toString())
                assertEquals(1.0, seen["postato.publishes|published"], seen.toString())
                assertEquals(1.0, seen["postato.publishes|permanent"], seen.toString())
                assertTrue((seen["postato.retry_budget.tokens|null"] ?: 0.0) > 0.0, seen.toString())
                assertEquals(metricsTable().map { it.name }.toSet() - "postato.dead_letters", seen.keys.map { it.substringBefore("|") }.toSet())
            }
        }
    }

    @Test
    fun `a client gathers nothing unless asked`() = runBlocking {
        val client = client(metrics = null)
        client.publish(Support.post(Support.key("kt-no-metrics")))
        assertNull(client.takeMetrics())
    }
}
