/* placeholder: src/http/h2.c is being written */
typedef int placeholder_src_http_h2_c;
