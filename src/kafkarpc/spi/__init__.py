"""Drop-in shapes for the ONEX reference protocols (``omnibase_spi``), on kafkarpc.

``EventPublisher`` (``ProtocolEventPublisher``), ``EventBusAdapter`` (the Kafka
event-bus adapter), ``DlqHandler`` (``ProtocolDLQHandler``), and the message and
header types they hand out. docs/omnibase-spi.md maps each reference method here.
"""

from .bus import EventBusAdapter
from .dlq import DlqHandler
from .headers import EventHeaders
from .message import EventMessage
from .protocols import ProtocolEventBusHeaders, ProtocolEventMessage
from .publisher import EventPublisher, PublisherOptions, create_event_publisher

__all__ = [
    "DlqHandler",
    "EventBusAdapter",
    "EventHeaders",
    "EventMessage",
    "EventPublisher",
    "ProtocolEventBusHeaders",
    "ProtocolEventMessage",
    "PublisherOptions",
    "create_event_publisher",
]
