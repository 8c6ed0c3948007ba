"""The Kafka transport: librdkafka's clients on dedicated threads, their settings and errors."""
