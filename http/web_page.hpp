#pragma once
// The web page of p2p-daemon --http: one static HTML document with its
// script inline, compiled in (nothing is fetched at run time but
// /api/status and /api/peers, every second). It writes every name with
// textContent, never innerHTML: names may hold any character.

namespace p2p {

// The page (UTF-8 HTML). Its one <script> element is what the server's
// Content-Security-Policy allows by hash (web_server.cpp).
extern const char* const web_page_html;

} // namespace p2p
