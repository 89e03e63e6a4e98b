"""Real HTTP servers on loopback that play outside services (Google certs, RevenueCat, OpenAI) in tests."""
