/* placeholder: src/admin/metrics.c is being written */
typedef int placeholder_src_admin_metrics_c;
