package com.postato

import io.opentelemetry.api.common.AttributeKey
import io.opentelemetry.api.common.Attributes
import io.opentelemetry.api.metrics.DoubleHistogram
import io.opentelemetry.api.metrics.LongCounter
import io.opentelemetry.api.metrics.Meter
import io.opentelemetry.api.metrics.ObservableDoubleGauge
import java.util.concurrent.Executors
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.TimeUnit

/**
 * The Rust client's metrics as OpenTelemetry instruments of [meter] (the application brings
 * `io.opentelemetry:opentelemetry-api` and its SDK): the same names, units and labels as every
 * language (`metricsTable()`). Give the client `ClientOptions(metrics = true)`: what it gathers
 * is added every [everyMillis] ms on a daemon thread, and on [flush]. [close] adds the rest and
 * stops, as a JVM test must; close it before the client. One per client: the gauge
 * `postato.retry_budget.tokens` is its client's. Needs `opentelemetry-api` 1.32 or later (bucket
 * advice).
 */
class PostatoMetrics(private val client: Client, meter: Meter, everyMillis: Long = 1_000) : AutoCloseable {
    private val table = metricsTable()
    private val labels: Map<String, String?> = table.associate { it.name to it.label }
    private val counters: Map<String, LongCounter> = table.filter { it.kind == "counter" }.associate {
        it.name to meter.counterBuilder(it.name).setUnit(it.unit).setDescription(it.help).build()
    }
    private val waitDuration = table.single { it.kind == "histogram" }
    private val waits: DoubleHistogram = meter.histogramBuilder(waitDuration.name)
        .setUnit(waitDuration.unit)
        .setDescription(waitDuration.help)
        .setExplicitBucketBoundariesAdvice(waitBuckets())
        .build()
    private val budget: ObservableDoubleGauge = table.single { it.kind == "gauge" }.let { gauge ->
        meter.gaugeBuilder(gauge.name).setUnit(gauge.unit).setDescription(gauge.help)
            .buildWithCallback { it.record(client.retryBudgetTokens()) }
    }
    private val timer: ScheduledExecutorService = Executors.newSingleThreadScheduledExecutor { task ->
        Thread(task, "postato-metrics").apply { isDaemon = true }
    }

    init {
        require(everyMillis > 0) { "everyMillis must be positive, got $everyMillis" }
        timer.scheduleWithFixedDelay({ runCatching { flush() } }, everyMillis, everyMillis, TimeUnit.MILLISECONDS)
    }

    /** Adds what the client gathered since it was last taken. */
    @Synchronized
    fun flush() {
        val taken = client.takeMetrics() ?: return
        for (count in taken.counts) {
            val label = labels[count.name]
            val value = count.label
            val attributes = if (label != null && value != null) Attributes.of(AttributeKey.stringKey(label), value) else Attributes.empty()
            counters[count.name]?.add(count.increase.toLong(), attributes)
        }
        val reason = AttributeKey.stringKey(waitDuration.label ?: "reason")
        for (wait in taken.waits) {
            waits.record(wait.seconds, Attributes.of(reason, wait.reason))
        }
    }

    override fun close() {
        timer.shutdownNow()
        try {
            flush()
        } finally {
            budget.close()
        }
    }
}
