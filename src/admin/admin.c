/* placeholder: src/admin/admin.c is being written */
typedef int placeholder_src_admin_admin_c;
