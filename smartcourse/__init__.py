"""SmartCourse: an event-sourced CQRS learning-platform backend on Kafka streams."""

__version__ = "0.1.0"
