"""Operations: what operators watch and act on (platform metrics, the console, faults)."""
