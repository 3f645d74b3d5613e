//! Plain http only to loopback whatever the route (proxies included), and secrets kept out of children's environment and argv.
