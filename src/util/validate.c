/* placeholder: src/util/validate.c is being written */
typedef int placeholder_src_util_validate_c;
