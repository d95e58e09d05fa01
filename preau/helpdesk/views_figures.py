from django.http import HttpResponse


def figures(request):
    return HttpResponse("")
