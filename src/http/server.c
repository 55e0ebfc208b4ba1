/* placeholder: src/http/server.c is being written */
typedef int placeholder_src_http_server_c;
