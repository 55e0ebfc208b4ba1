/* placeholder: src/http/h1.c is being written */
typedef int placeholder_src_http_h1_c;
