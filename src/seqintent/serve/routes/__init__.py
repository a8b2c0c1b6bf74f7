"""The HTTP routes, one router per area: events, stored users, stateless predict, operations."""

from seqintent.serve.routes.events import router as events_router
from seqintent.serve.routes.ops import router as ops_router
from seqintent.serve.routes.predict import router as predict_router
from seqintent.serve.routes.users import router as users_router

__all__ = ["events_router", "ops_router", "predict_router", "users_router"]
