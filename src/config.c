/* placeholder: src/config.c is being written */
typedef int placeholder_src_config_c;
