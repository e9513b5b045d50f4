SELECT deployment_id FROM course_deployment
 WHERE bot_id = $1 AND course_id = $2 AND account_id = $3 AND environment = $4
