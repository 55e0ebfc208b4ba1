/* placeholder: src/relay/h2client.c is being written */
typedef int placeholder_src_relay_h2client_c;
