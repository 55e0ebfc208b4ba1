/* placeholder: src/log.c is being written */
typedef int placeholder_src_log_c;
