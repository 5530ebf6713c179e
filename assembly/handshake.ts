// Handshake exports (being written).
