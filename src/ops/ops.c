/* placeholder: src/ops/ops.c is being written */
typedef int placeholder_src_ops_ops_c;
