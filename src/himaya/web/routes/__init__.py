"""One router per part of the app; each route checks access itself (see himaya.web.context)."""
