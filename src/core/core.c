/* placeholder: src/core/core.c is being written */
typedef int placeholder_src_core_core_c;
