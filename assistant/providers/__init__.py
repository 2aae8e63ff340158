"""Answer generators behind one interface, and the chain that falls back between them."""
