/* placeholder: src/http/range.c is being written */
typedef int placeholder_src_http_range_c;
