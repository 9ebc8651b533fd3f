// The daemon, HTTP API and review UI live here.
