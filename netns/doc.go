// Package netns is the network side of a zbox sandbox: it brings the
// loopback interface up inside a fresh network namespace, bridges proxy
// connections across the namespace boundary, rewrites the proxy
// environment variables, and implements zbox's built-in domain
// allow-list proxy.
//
// There are two bridge designs, both loopback-only on both ends:
//
//   - Native engine: the sandbox's init opens 127.0.0.1:0 listeners
//     inside the new network namespace ([ListenLoopback]) and hands their
//     file descriptors to the outer zbox process ([SendFDs]/[RecvFDs]).
//     The outer process accepts on them ([ListenerFromFD], [NewForwarder]
//     or [NewHandlerForwarder]) and forwards each connection to the real
//     host proxy, or serves it in-process with a [Proxy]. One hop, no
//     socket files, and nothing inside the sandbox runs bridge code.
//
//   - Codex helper / bwrap compatibility: the helper's protocol (spec
//     codex-helper.md §6). The host side ([PrepareHostUDSBridges])
//     listens on unix sockets in a private 0700 directory and forwards to
//     the loopback proxies; the route spec ([MarshalRouteSpec]) names the
//     sockets; the inner side ([StartInnerUDSBridges]) listens on
//     127.0.0.1:0 inside the namespace and forwards to those sockets.
//
// Environment handling ([CollectProxyRoutes], [RewriteProxyURL],
// [RewriteEnv]) and the allow-list rules ([ParseRules]) are pure and
// portable; everything that touches the kernel lives in _linux.go files.
package netns
