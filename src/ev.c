/* placeholder: src/ev.c is being written */
typedef int placeholder_src_ev_c;
