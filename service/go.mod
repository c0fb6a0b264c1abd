module github.com/secure-movie-service/sms/service

go 1.26
