/* placeholder: src/tls/tls.c is being written */
typedef int placeholder_src_tls_tls_c;
