/* placeholder: src/jobs/jobs.c is being written */
typedef int placeholder_src_jobs_jobs_c;
