/* placeholder: src/relay/relay.c is being written */
typedef int placeholder_src_relay_relay_c;
