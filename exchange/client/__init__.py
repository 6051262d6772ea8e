"""A department's client for the exchange API: `credit-exchange` (exchange.client.cli)."""
