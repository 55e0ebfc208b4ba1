/* placeholder: src/relay/fetch.c is being written */
typedef int placeholder_src_relay_fetch_c;
